"""Telephony: the provider seam (Twilio, simulator), the voice and SMS webhooks, dialing."""
