from django import template

from ..tag import render_tag

register = template.Library()


@register.simple_tag(takes_context=True)
def dynchat(context, nonce=None):
    """Add the chat to a page: ``{% load dynchat %}{% dynchat %}`` before ``</body>``.

    Pass ``nonce=request.csp_nonce`` (or your CSP library's nonce) under a nonce-based CSP.
    """
    return render_tag(context.get("request"), context.get("page"), nonce)
