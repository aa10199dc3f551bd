"""wagtail-dynchat: a scripted, targeted website chatbot native to Wagtail."""

__version__ = "0.1.0.dev0"
