import { describe, expect, it } from '@jest/globals';

import { ClientType, clientTypeOf, DeviceType, parseDeviceType } from './device-type';

describe('device types', () => {
  it.each([
    [DeviceType.Android, ClientType.Mobile],
    [DeviceType.iOS, ClientType.Mobile],
    [DeviceType.AndroidAmazon, ClientType.Mobile],
    [DeviceType.ChromeExtension, ClientType.Browser],
    [DeviceType.SafariExtension, ClientType.Browser],
    [DeviceType.VivaldiExtension, ClientType.Browser],
    [DeviceType.UWP, ClientType.Desktop],
    [DeviceType.LinuxDesktop, ClientType.Desktop],
    [DeviceType.ChromeBrowser, ClientType.Web],
    [DeviceType.UnknownBrowser, ClientType.Web],
    [DeviceType.DuckDuckGoBrowser, ClientType.Web],
    [DeviceType.LinuxCLI, ClientType.Cli],
    [DeviceType.SDK, ClientType.All],
    [DeviceType.Server, ClientType.All],
    [undefined, ClientType.All],
  ])('device type %s is client type %s', (deviceType, clientType) => {
    expect(clientTypeOf(deviceType)).toBe(clientType);
  });

  it('reads names in any case, numbers and numeric strings', () => {
    expect(parseDeviceType('ChromeExtension')).toBe(DeviceType.ChromeExtension);
    expect(parseDeviceType('chromeextension')).toBe(DeviceType.ChromeExtension);
    expect(parseDeviceType(9)).toBe(DeviceType.ChromeBrowser);
    expect(parseDeviceType('26')).toBe(DeviceType.DuckDuckGoBrowser);
    expect(parseDeviceType(27)).toBeUndefined();
    expect(parseDeviceType('Toaster')).toBeUndefined();
    expect(parseDeviceType(null)).toBeUndefined();
  });
});
