from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("otp", "0002_company_in_companies_app")]

    operations = [
        migrations.AlterField(
            model_name="otpchallenge",
            name="channel",
            field=models.CharField(
                choices=[("whatsapp", "WhatsApp"), ("sms", "SMS"), ("email", "E-mail")], max_length=10
            ),
        ),
    ]
