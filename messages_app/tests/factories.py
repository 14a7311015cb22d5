import factory
from django.utils import timezone

from messages_app.models import DeliveryStatus, Direction, Kind, Message
from requests_app.tests.factories import SupportRequestFactory


class InboundMessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    request = factory.SubFactory(SupportRequestFactory)
    direction = Direction.INBOUND
    kind = Kind.REQUESTER
    author_email = factory.SelfAttribute("request.requester_email")
    subject = factory.SelfAttribute("request.subject")
    body = factory.Faker("paragraph")
    reply = factory.SelfAttribute("body")
    rfc_message_id = factory.Sequence(lambda n: f"<inbound-{n}@mail.example.com>")
    created_at = factory.LazyFunction(timezone.now)


class OutboundMessageFactory(InboundMessageFactory):
    direction = Direction.OUTBOUND
    kind = Kind.OPERATOR
    author_email = "support@example.com"
    rfc_message_id = factory.Sequence(lambda n: f"<outbound-{n}@example.com>")
    delivery_status = DeliveryStatus.PENDING
