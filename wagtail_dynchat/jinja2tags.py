"""Jinja2 support: add ``wagtail_dynchat.jinja2tags.dynchat`` to the environment's extensions,
then call ``{{ dynchat() }}`` in a template."""

import jinja2
from jinja2.ext import Extension

from .tag import render_tag


@jinja2.pass_context
def _dynchat(context, nonce=None):
    return render_tag(context.get("request"), context.get("page"), nonce)


class DynchatExtension(Extension):
    def __init__(self, environment):
        super().__init__(environment)
        environment.globals["dynchat"] = _dynchat


dynchat = DynchatExtension
