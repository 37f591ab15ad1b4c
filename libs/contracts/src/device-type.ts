/** Bitwarden's DeviceType. WIRE VALUES: tokens carry these as a name or a number. */
export enum DeviceType {
  Android = 0,
  iOS = 1,
  ChromeExtension = 2,
  FirefoxExtension = 3,
  OperaExtension = 4,
  EdgeExtension = 5,
  WindowsDesktop = 6,
  MacOsDesktop = 7,
  LinuxDesktop = 8,
  ChromeBrowser = 9,
  FirefoxBrowser = 10,
  OperaBrowser = 11,
  EdgeBrowser = 12,
  IEBrowser = 13,
  UnknownBrowser = 14,
  AndroidAmazon = 15,
  UWP = 16,
  SafariBrowser = 17,
  VivaldiBrowser = 18,
  VivaldiExtension = 19,
  SafariExtension = 20,
  SDK = 21,
  Server = 22,
  WindowsCLI = 23,
  MacOsCLI = 24,
  LinuxCLI = 25,
  DuckDuckGoBrowser = 26,
}

/** Bitwarden's ClientType. WIRE VALUES: `ClientType` in Notification payloads and push jobs. */
export enum ClientType {
  All = 0,
  Web = 1,
  Browser = 2,
  Desktop = 3,
  Mobile = 4,
  Cli = 5,
}

const CLIENT_TYPE_BY_DEVICE: ReadonlyMap<DeviceType, ClientType> = new Map([
  [DeviceType.Android, ClientType.Mobile],
  [DeviceType.iOS, ClientType.Mobile],
  [DeviceType.AndroidAmazon, ClientType.Mobile],
  [DeviceType.ChromeExtension, ClientType.Browser],
  [DeviceType.FirefoxExtension, ClientType.Browser],
  [DeviceType.OperaExtension, ClientType.Browser],
  [DeviceType.EdgeExtension, ClientType.Browser],
  [DeviceType.VivaldiExtension, ClientType.Browser],
  [DeviceType.SafariExtension, ClientType.Browser],
  [DeviceType.WindowsDesktop, ClientType.Desktop],
  [DeviceType.MacOsDesktop, ClientType.Desktop],
  [DeviceType.LinuxDesktop, ClientType.Desktop],
  [DeviceType.UWP, ClientType.Desktop],
  [DeviceType.ChromeBrowser, ClientType.Web],
  [DeviceType.FirefoxBrowser, ClientType.Web],
  [DeviceType.OperaBrowser, ClientType.Web],
  [DeviceType.EdgeBrowser, ClientType.Web],
  [DeviceType.IEBrowser, ClientType.Web],
  [DeviceType.UnknownBrowser, ClientType.Web],
  [DeviceType.SafariBrowser, ClientType.Web],
  [DeviceType.VivaldiBrowser, ClientType.Web],
  [DeviceType.DuckDuckGoBrowser, ClientType.Web],
  [DeviceType.WindowsCLI, ClientType.Cli],
  [DeviceType.MacOsCLI, ClientType.Cli],
  [DeviceType.LinuxCLI, ClientType.Cli],
]);

const DEVICE_TYPE_BY_NAME: ReadonlyMap<string, DeviceType> = new Map(
  Object.entries(DeviceType)
    .filter((entry): entry is [string, DeviceType] => typeof entry[1] === 'number')
    .map(([name, value]) => [name.toLowerCase(), value]),
);

/**
 * Reads a `devicetype` claim: an enum name in any case (`ChromeExtension`) or a number, also as a
 * numeric string. Anything else is undefined (the connection then has no client-type group).
 */
export function parseDeviceType(value: unknown): DeviceType | undefined {
  if (typeof value === 'number') {
    return Number.isInteger(value) && value in DeviceType ? value : undefined;
  }
  if (typeof value !== 'string' || value.length === 0) {
    return undefined;
  }
  if (/^\d+$/.test(value)) {
    return parseDeviceType(Number(value));
  }
  return DEVICE_TYPE_BY_NAME.get(value.toLowerCase());
}

/** SDK, Server, unknown or missing device types map to All: such connections join no client-type group. */
export function clientTypeOf(deviceType: DeviceType | undefined): ClientType {
  return deviceType === undefined
    ? ClientType.All
    : (CLIENT_TYPE_BY_DEVICE.get(deviceType) ?? ClientType.All);
}

export function isClientType(value: unknown): value is ClientType {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value <= 5;
}
