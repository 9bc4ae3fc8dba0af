"""The ways a user is told: `push` (FCM to their devices) and `email` (a Trigger Email document)."""
