"""The email channel: a support mailbox read over IMAP and answered over SMTP."""
