"""``python -m credflow.cli``: the same as the ``credflow`` command."""

if __name__ == "__main__":  # pragma: no cover - coverage does not trace runpy's __main__
    from credflow.cli import main

    raise SystemExit(main())
