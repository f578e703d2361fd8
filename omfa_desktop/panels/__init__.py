"""The main window's panels, each a view over the session model (omfa_desktop.model.session): task, inputs,
generation settings, the queue and the running job, the demo notice."""
