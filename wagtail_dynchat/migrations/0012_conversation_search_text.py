from django.db import migrations, models

from wagtail_dynchat.engine.transcript import search_text

BATCH = 1000


def fill_search_text(apps, schema_editor):
    """Existing transcripts become searchable: the column is filled in batches by id."""
    Conversation = apps.get_model("wagtail_dynchat", "Conversation")
    rows = Conversation.objects.order_by("pk").only("pk", "transcript")
    last = 0
    while True:
        batch = list(rows.filter(pk__gt=last)[:BATCH])
        if not batch:
            return
        for conversation in batch:
            conversation.search_text = search_text(conversation.transcript)
        Conversation.objects.bulk_update(batch, ["search_text"])
        last = batch[-1].pk


class Migration(migrations.Migration):
    dependencies = [
        ("wagtail_dynchat", "0011_outbox_sent_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="conversation",
            name="search_text",
            field=models.TextField(blank=True, default="", editable=False),
        ),
        migrations.RunPython(fill_search_text, migrations.RunPython.noop, elidable=True),
    ]
