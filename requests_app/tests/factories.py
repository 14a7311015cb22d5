import factory
from django.utils import timezone

from operators_app.tests.factories import OperatorFactory
from requests_app.models import Status, SupportRequest


class SupportRequestFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SupportRequest

    subject = factory.Faker("sentence", nb_words=5)
    requester_email = factory.Sequence(lambda n: f"requester{n}@example.com")
    requester_name = factory.Faker("name")
    status = Status.NEW
    last_message_at = factory.LazyFunction(timezone.now)
    operator = None
    # As the services keep it: the holder's name, copied for the list's ordering.
    operator_name = factory.LazyAttribute(lambda o: o.operator.name if o.operator else None)

    class Params:
        taken = factory.Trait(
            status=Status.IN_PROGRESS,
            operator=factory.SubFactory(OperatorFactory),
            taken_at=factory.LazyFunction(timezone.now),
        )
        closed = factory.Trait(status=Status.CLOSED, closed_at=factory.LazyFunction(timezone.now))
