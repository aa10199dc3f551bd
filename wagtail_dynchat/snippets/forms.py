"""The dialogue's admin form (the snippet edit view builds it from the model's panels)."""

from django.utils.text import capfirst
from wagtail.admin.forms import WagtailAdminModelForm


def _page_type_label(content_type):
    model = content_type.model_class()
    return capfirst(model._meta.verbose_name) if model else content_type.name


class DialogueForm(WagtailAdminModelForm):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "page_types" in self.fields:
            # "Blog page" reads better for editors than "Example site pages | blog page".
            self.fields["page_types"].label_from_instance = _page_type_label
