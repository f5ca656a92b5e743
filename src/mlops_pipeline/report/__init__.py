"""The HTML execution report: one self-contained page per execution, from local records or AWS calls.

``model.py`` is the report's data (one shape for both sources), ``local_source.py`` and ``aws_source.py``
fill it, ``graph.py`` lays out the state graph, ``charts.py`` draws the plots as SVG and ``html.py``
writes the page. Standard library only, except the AWS source (boto3).
"""
