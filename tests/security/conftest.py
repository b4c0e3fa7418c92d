"""The multi-host rig (tests/multihost): a credentialed cluster in network namespaces."""

from tests.multihost.conftest import shared_deployment, site  # noqa: F401 (fixtures)
