"""The commands that look at runs already trained: `cnnctl runs` lists a folder of them, `cnnctl compare`
sets a few side by side. They read run folders only, through `cnnctl.runfolder`, and never import
TensorFlow or matplotlib, so they answer in an instant even while a run is training. Each builds its
tables as text (`grid.Grid`); `cnnctl.render` draws them, for a terminal or as Markdown.
"""
