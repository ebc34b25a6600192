"""Importing conversations into the workspace at speed: checked rows made apart from the database
(in worker processes for big jobs), stored in bulk, with the job's progress and time left."""
