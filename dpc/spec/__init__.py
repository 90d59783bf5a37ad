"""pipeline.yaml → frozen typed models, with every error located by file, line and column."""
