"""The commands that look at runs already trained: `cnnctl runs` lists a folder of them, `cnnctl compare`
sets a few side by side, `cnnctl report` writes one self-contained HTML page of one or more.

They read run folders only, through `cnnctl.runfolder`; `runs` and `compare` never import TensorFlow or
matplotlib, so they answer in an instant even while a run is training. They build their tables as text
(`grid.Grid`); `cnnctl.render` draws them, for a terminal or as Markdown.
"""
