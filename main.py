"""Cloud Functions entry points: decode the CloudEvent, hand it to the plain-Python core.

    notify_byok_llm_error       Pub/Sub trigger (google.cloud.pubsub.topic.v1.messagePublished)
    cleanup_invalid_fcm_tokens  Firestore trigger (google.cloud.firestore.document.v1.written)

Returning acknowledges the event; raising makes Pub/Sub / Eventarc retry it.
"""
import functions_framework
from cloudevents.http import CloudEvent

from functions import cleanup, config, notify

config.check_at_start()


@functions_framework.cloud_event
def notify_byok_llm_error(event: CloudEvent) -> None:
    notify.handle_pubsub_event(event["id"], event.data)


@functions_framework.cloud_event
def cleanup_invalid_fcm_tokens(event: CloudEvent) -> None:
    cleanup.handle_document_written(event["id"], event.get("document"), event.data)
