"""The names of the files in a run folder: spelt here once, for every module that reads or writes one.

    runs/<name>/config.yaml       resolved config that reproduces the run
                summary.txt       the layer table, as `cnnctl summary --explain` prints it
                summary.json      the same facts as data
                metrics.csv       one row per epoch, flushed each epoch
                checkpoint.npz    everything `cnnctl resume` needs, replaced each epoch
                model.keras       final model
                best.keras        best model by the monitored metric
                evaluation.json   per-class test evaluation of the final model
                curves.png        loss, metrics and learning rate per epoch
                confusion.png     the test confusion matrix
                errors.png        the final model's most confident test mistakes, with errors.csv
                tensorboard/      TensorBoard event files (train.tensorboard: true)
                export/           `cnnctl export`: model.tflite, model.onnx, model_saved_model/, ...
                  export.json     one record per exported file: input contract, agreement, size, speed
                results.json      status, test metrics, timings, device, data, versions
                report.html       `cnnctl report RUN`: all of the above on one page, images inlined
                .lock             held by the process writing the folder, with its id

    runs/<study>/                 `cnnctl tune`: one study
                 trial-0000/      each trial's run folder, as above
                 study.db         the Optuna study (SQLite), unless --storage names a database
                 study.json       the trials, the best one and parameter importance, written at the end
                 best.yaml        the best trial's complete config: `cnnctl train` reproduces it
                 params.png       each parameter against the metric
"""

CONFIG = "config.yaml"
SUMMARY_TEXT = "summary.txt"
SUMMARY_JSON = "summary.json"
METRICS = "metrics.csv"
CHECKPOINT = "checkpoint.npz"
MODEL = "model.keras"
BEST = "best.keras"
EVALUATION = "evaluation.json"
CURVES = "curves.png"
CONFUSION = "confusion.png"
ERRORS_SHEET = "errors.png"
ERRORS_TABLE = "errors.csv"
TENSORBOARD = "tensorboard"
RESULTS = "results.json"
REPORT = "report.html"
LOCK = ".lock"
EXPORT = "export"
EXPORT_RECORD = "export.json"

STUDY_DB = "study.db"
STUDY_RECORD = "study.json"
BEST_CONFIG = "best.yaml"
STUDY_PLOT = "params.png"
TRIAL = "trial-{:04d}"  # a trial's run folder, by its number in the study
