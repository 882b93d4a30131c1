"""Using a trained model outside training: `predict` on new images, `export` to deployable files.

Both start from `serving.serving_model`, the run's model with its preprocessing inside, so whatever
leaves a run folder takes raw pixels (0-255) in the layout the config declares.
"""
