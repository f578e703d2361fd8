"""The desktop's state without widgets: importable and testable with no Qt (tests/session/).

- :mod:`.observable`  a tiny observer (a field assignment tells the listeners, with the field's name)
- :mod:`.session`     the Session: task, inputs, sampler settings, pose, views, model -> TryOnRequest
- :mod:`.jobs`        Job, JobState, JobKind and the typed payload of each kind of job
- :mod:`.gallery_store`  GalleryEntry / GalleryStore: results on disk
- :mod:`.app_settings`   AppSettings: what the app remembers between runs

The windows (omfa_desktop.window, omfa_desktop.kiosk.window) are views over these: widgets write the
session, the session's notifications update the widgets.
"""
