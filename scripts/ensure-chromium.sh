#!/bin/sh
# Make sure Debian's headless-capable Chromium is at /usr/bin/chromium (the browser tests drive it
# through Playwright's `executable_path`; Playwright's own browser downloads are never used).
# Installs the `chromium` package with apt-get when it is missing; fails loudly when it cannot.
set -eu
browser=${CREDFLOW_CHROMIUM:-/usr/bin/chromium}

if [ -x "$browser" ]; then
    exit 0
fi
echo "ensure-chromium: $browser missing; installing Debian's chromium package" >&2
if [ "$(id -u)" -ne 0 ]; then
    echo "ensure-chromium: need root to apt-get install chromium (or set CREDFLOW_CHROMIUM)" >&2
    exit 1
fi
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    chromium fonts-dejavu-core >/dev/null
[ -x "$browser" ] || { echo "ensure-chromium: $browser still missing after install" >&2; exit 1; }
echo "ensure-chromium: $("$browser" --version 2>/dev/null || echo chromium) installed" >&2
