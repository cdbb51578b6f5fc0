"""RCS through Google's RCS Business Messaging (RBM): the `rbm` connector and its
operator settings."""

from opencomms.connectors.rbm.config import RbmConfig
from opencomms.connectors.rbm.connector import RbmConnector

__all__ = ["RbmConfig", "RbmConnector"]
