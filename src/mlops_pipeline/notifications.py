"""The workflow's failure-notification subscribers on the failures topic Terraform creates.

Deploy subscribes each e-mail address and HTTPS endpoint of ``PipelineConfig.notifications`` that the
topic does not list yet (Terraform's ``failure_topic_arn`` output); running it again subscribes nothing.
SNS sends each new subscriber a confirmation (a mail with a link, a POST with a SubscribeURL) and delivers
nothing to it until it is confirmed; an unconfirmed one stays listed as ``PendingConfirmation`` (Amazon SNS
developer guide, "Subscribing to an Amazon SNS topic"), so it is not subscribed twice either. Deploy never
unsubscribes: subscribers added by hand stay, and one removed from the workflow is removed with
``aws sns unsubscribe`` (said in the summary).
"""

from __future__ import annotations

from mlops_pipeline.config import NotificationSettings
from mlops_pipeline.errors import PipelineError

#: What SNS calls the two kinds of subscriber the workflow may add.
PROTOCOLS = ("email", "https")


def wanted(settings: NotificationSettings) -> list[tuple[str, str]]:
    """(protocol, endpoint) of every subscriber the workflow names."""
    return [("email", address) for address in settings.email] + [("https", url) for url in settings.https]


def listed(sns, topic_arn: str) -> set[tuple[str, str]]:
    """(protocol, endpoint) of every subscription of the topic, confirmed or pending."""
    found = set()
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        found |= {(item["Protocol"], item["Endpoint"]) for item in page["Subscriptions"]}
    return found


def check_topic(settings: NotificationSettings, topic_arn: str) -> None:
    """Subscribers need the topic: said before deploy changes anything."""
    if wanted(settings) and not topic_arn:
        raise PipelineError(
            "the workflow names notification subscribers but the terraform outputs lack failure_topic_arn: "
            "run `terraform -chdir=infra/terraform apply` first"
        )


def subscribe(sns, topic_arn: str, settings: NotificationSettings, dry_run: bool) -> list[tuple[str, str, str]]:
    """Subscribe what the topic lacks; one (endpoint, action, detail) per subscriber the workflow names."""
    subscribers = wanted(settings)
    if not subscribers:
        return []
    check_topic(settings, topic_arn)
    present = listed(sns, topic_arn)
    rows = []
    for protocol, endpoint in subscribers:
        if (protocol, endpoint) in present:
            rows.append((endpoint, "unchanged", protocol))
        elif dry_run:
            rows.append((endpoint, "would subscribe", protocol))
        else:
            sns.subscribe(TopicArn=topic_arn, Protocol=protocol, Endpoint=endpoint)
            rows.append((endpoint, "subscribed", f"{protocol}: SNS sent a confirmation; nothing arrives before it"))
    return rows
