"""A local web page to try a trained model: `python -m dpig_tf.apps.web`.

The Gradio layout and events live in `ui.py` (the only module importing
gradio, an optional `[web]` extra); everything else here is plain logic,
testable without a browser: where the model comes from (`model_source`),
uploaded images (`uploads`) and keypoint files (`keypoint_files`), the
clickable pose editor (`pose_editor`), demo pose sequences
(`demo_sequences`) and the cached, compiled model calls (`engine`).
"""
