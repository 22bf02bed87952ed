"""Reading and writing branch workbooks: the template, the reader and its checks."""
