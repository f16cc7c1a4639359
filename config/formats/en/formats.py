"""Date formats of the operators' console (Django reads them through FORMAT_MODULE_PATH).

Every time carries its zone (``T``: "IST", "UTC"), so a time never reads as another
zone's; 24-hour clock and day-month order, short enough for list columns. The API does
not use these (it renders ISO 8601 with the offset).
"""

DATETIME_FORMAT = "j M Y, H:i T"
SHORT_DATETIME_FORMAT = "j M Y, H:i T"
DATE_FORMAT = "j M Y"
SHORT_DATE_FORMAT = "j M Y"
TIME_FORMAT = "H:i T"
