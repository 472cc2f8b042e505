"""The merchandiser console under /console: staff access, audit log and the areas' pages."""
