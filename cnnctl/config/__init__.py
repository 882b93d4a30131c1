"""The config layer: YAML in, a validated `Config` out. Nothing here builds or trains."""

from cnnctl.config.load import Config, load_config, parse_config

__all__ = ["Config", "load_config", "parse_config"]
