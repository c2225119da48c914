"""The dialog speaks through core's catalogs: the same words on screen and in SMS."""

from tikiti.core.i18n import DEFAULT, LANGUAGES, translate, translator

__all__ = ["DEFAULT", "LANGUAGES", "translate", "translator"]
