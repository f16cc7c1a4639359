"""The waitlist of full slots: join and leave (``services``), who is in line
(``selectors``), its endpoints (``views``, ``urls``) and how entries follow their offered
bookings (``receivers``). Promotion takes the freed seats here; the payment and message of
each offer are started by ``payments.waitlist_offers``."""
