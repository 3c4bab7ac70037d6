"""Customers written before every writer normalised (the admin stored phones as typed) get their phone,
e-mail and CPF in normal form. A value with no normal form, or whose normal form another customer of the
company already has, is left as it is: the admin's form names the problem when someone next edits it."""

from django.db import migrations

from customers.identifiers import NORMALISERS


def normalise(apps, schema_editor):
    Customer = apps.get_model("customers", "Customer")
    rows = Customer.objects.exclude(phone=None, email=None, cpf=None).only("id", "company_id", *NORMALISERS)
    for customer in rows.order_by("id").iterator(chunk_size=2000):
        changes = {}
        for field, normal_form in NORMALISERS.items():
            raw = getattr(customer, field)
            if raw is None:
                continue
            if not raw.strip():
                changes[field] = None
                continue
            try:
                value = normal_form(raw)
            except ValueError:
                continue
            taken = Customer.objects.filter(company_id=customer.company_id, **{field: value}).exists()
            if value != raw and not taken:
                changes[field] = value
        if changes:
            Customer.objects.filter(pk=customer.pk).update(**changes)


class Migration(migrations.Migration):
    dependencies = [
        ("customers", "0005_company_in_companies_app"),
    ]

    operations = [migrations.RunPython(normalise, migrations.RunPython.noop, elidable=True)]
