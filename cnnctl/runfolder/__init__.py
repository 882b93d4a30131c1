"""The run folder, owned here: its file names (`files`), results.json as a typed record (`results`),
config.yaml read back (`config`), metrics.csv (`metrics`), writing and locking (`folder`), and the
pictures drawn from them (`plots`).

Training, resume, the guardian, evaluate and the commands that look at runs all read and write a run
folder through this package; none of them spells a file name or a results key of its own.
"""

from cnnctl.runfolder import files
from cnnctl.runfolder.config import read_config
from cnnctl.runfolder.folder import RunFolder
from cnnctl.runfolder.results import Results, read_results

__all__ = ["RunFolder", "Results", "files", "read_config", "read_results"]
