# The OTP policy lives on zupy.Company (its four flags and presets); codes and sessions arrive with
# the OTP issue.
