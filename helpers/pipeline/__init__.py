"""How notebooks become a report: runs that publish all outputs or none, sweeps, the prerequisites
make reads, the notebook cell rules, the build lock, and the PDF with provenance under each figure."""
