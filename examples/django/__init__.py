"""credflow in a Django site: settings, URLconf and views in ``examples.django.app``."""
