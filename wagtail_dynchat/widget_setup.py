"""What the widget needs besides a dialogue: its language, its texts and the site's branding."""

from django.utils import translation

from .branding import appearance
from .widget_strings import widget_strings


def widget_setup(site_id, language):
    """The ``setup`` member of a bootstrap answer for a page of ``site_id`` in ``language``.

    ``lang`` is the language the texts really are in (Django's closest supported one), so the
    widget can mark its system texts correctly for screen readers; ``dir`` follows it.
    """
    with translation.override(language):
        strings = widget_strings()
        lang = translation.get_language()
        rtl = translation.get_language_bidi()
    return {
        "lang": lang,
        "dir": "rtl" if rtl else "ltr",
        "strings": strings,
        "look": appearance(site_id),
    }
