"""dpc: data pipelines in every team's AWS account, triggered across accounts."""

__version__ = "0.1.0"
