"""The dependency landscape as a picture: who waits for whom, across accounts.

Pure code (no boto3, no aws_cdk): the graph is built from validated pipelines or from the
deployed registry by the caller, then rendered as Mermaid, Graphviz DOT or one offline HTML
file with an inline SVG.
"""
