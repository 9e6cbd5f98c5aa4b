// Labs of many hosts over USB/IP: the lab file, Linux's usbip tool driven from the importing
// host, the exporter's side (for faults and serial numbers), and the supervisor that keeps the
// imports alive (heartbeat, re-attach).
export { parseLabFile, labFromJson, USBIP_PORT, DEFAULT_HEARTBEAT, type LabDescription, type LabHost, type LabDongle, type LabHub, type HeartbeatSettings } from './lab-file.ts';
export { LabFileError, UsbipCommandError, LabError } from './errors.ts';
export { runCommand, type CommandRunner, type CommandResult } from './command.ts';
export { UsbipTool, type UsbipToolOptions } from './usbip-tool.ts';
export { parseRemoteList, parsePortList, parseVhciStatus, VDEV_ST_USED, type ExportedDevice, type ImportedPort, type VhciPortStatus } from './usbip-output.ts';
export { Exporter } from './exporter.ts';
export { Lab, type Attachment, type HostListing, type ResolvedDongle, type LabOptions } from './lab.ts';
export { probeTcp, readVhciStatus, type Probe, type VhciReader } from './heartbeat.ts';
export { LabSupervisor, type SupervisorEvent, type SupervisorOptions } from './supervisor.ts';
export { importedOnly, vhciBusNumbers } from './imported-only.ts';
