#!/usr/bin/python3
"""A BlueZ stand-in for Benchtop's BLE tests: python-dbusmock's bluez5 template on the bus that
DBUS_SYSTEM_BUS_ADDRESS names, with one adapter and two advertising devices.

`benchtop-sim` (C0:FF:EE:00:00:01) advertises the Benchtop protocol service, the Battery service and
Device Information, manufacturer data for company 0xFFFF, and an RSSI that changes while it is seen. Its
GATT database holds:

* Battery (0x180F): Battery Level 0x2A19 (read, notify; 87 %) with a User Description descriptor 0x2901;
* Device Information (0x180A): Manufacturer Name 0x2A29 (read);
* Immediate Alert (0x1802): Alert Level 0x2A06 (read, write) -- a write is kept and read back;
* Benchtop protocol: RX (write without response) and TX (notify). Subscribing to TX opens a TCP connection
  to the simulated board (--sim HOST:PORT); RX writes go to it, and what it sends comes back as TX
  notifications of at most MTU - 3 bytes, cut without regard to frames, as a board would send them.

The second device (C0:FF:EE:00:00:02) has no name: scans must list it all the same.

`env-sensor` (C0:FF:EE:00:00:03) is a plain GATT sensor without the Benchtop service: Environmental Sensing
(0x181A) with Temperature 0x2A6E and Humidity 0x2A6F, both read and notify; once subscribed they notify every
100 ms (21.50 °C rising by 0.01 °C, 45.00 % rising by 0.10 %).

Two things BlueZ does that the template does not, which btleplug relies on: Device1.Connect also resolves
services (ServicesResolved=true), and every GATT interface has a method, as bluez-async's introspection
parser needs.

Prints `ready` on stdout once everything is on the bus; runs until its stdin closes or it is killed.
"""

import argparse
import os
import socket
import sys

import dbus
import dbus.mainloop.glib
import dbus.service
from gi.repository import GLib

import dbusmock.mockobject as mockobject
from dbusmock.templates import bluez5

DEVICE = 'org.bluez.Device1'
SERVICE = 'org.bluez.GattService1'
CHARACTERISTIC = 'org.bluez.GattCharacteristic1'
DESCRIPTOR = 'org.bluez.GattDescriptor1'
PROPERTIES = 'org.freedesktop.DBus.Properties'
OBJECT_MANAGER = 'org.freedesktop.DBus.ObjectManager'

BENCHTOP_SERVICE = '97270001-8144-4310-829d-64559c584769'
BENCHTOP_RX = '97270002-8144-4310-829d-64559c584769'
BENCHTOP_TX = '97270003-8144-4310-829d-64559c584769'


def sig(short):
    return f'0000{short:04x}-0000-1000-8000-00805f9b34fb'


def byte_array(data):
    return dbus.Array([dbus.Byte(b) for b in data], signature='y', variant_level=1)


def changed(obj, interface, props):
    for key, value in props.items():
        obj.props[interface][key] = value
    obj.EmitSignal(PROPERTIES, 'PropertiesChanged', 'sa{sv}as', [interface, props, []])


class Peripheral:
    """The GATT side of `benchtop-sim`, and its bridge to the simulated board."""

    def __init__(self, root, device_path, sim_address, mtu):
        self.root = root
        self.device_path = device_path
        self.sim_address = sim_address
        self.mtu = mtu
        self.sim = None
        self.watch = None
        self.tx = None
        self.handle = 0x0010

    def add(self, path, interface, props, methods, emit=True):
        self.root.AddObject(path, interface, props, methods)
        if emit:
            self.root.EmitSignal(OBJECT_MANAGER, 'InterfacesAdded', 'oa{sa{sv}}',
                                 [dbus.ObjectPath(path), {interface: props}])
        return mockobject.objects[path]

    def service(self, uuid):
        self.handle += 0x10
        path = f'{self.device_path}/service{self.handle:04x}'
        props = {
            'UUID': dbus.String(uuid, variant_level=1),
            'Primary': dbus.Boolean(True, variant_level=1),
            'Device': dbus.ObjectPath(self.device_path, variant_level=1),
            'Includes': dbus.Array([], signature='o', variant_level=1),
        }
        # bluez-async cannot read an interface without methods.
        self.add(path, SERVICE, props, [('Unused', '', '', '')])
        return path

    def characteristic(self, service_path, uuid, flags, value=b'', read=None, write=None, start=None):
        self.handle += 1
        path = f'{service_path}/char{self.handle:04x}'
        props = {
            'UUID': dbus.String(uuid, variant_level=1),
            'Service': dbus.ObjectPath(service_path, variant_level=1),
            'Value': byte_array(value),
            'Notifying': dbus.Boolean(False, variant_level=1),
            'Flags': dbus.Array(flags, signature='s', variant_level=1),
            'MTU': dbus.UInt16(self.mtu, variant_level=1),
        }

        def read_value(obj, _options):
            if read is not None:
                return byte_array(read())
            return obj.props[CHARACTERISTIC]['Value']

        def write_value(obj, value, _options):
            data = bytes(value)
            if len(data) > self.mtu - 3:
                raise dbus.exceptions.DBusException(
                    f'{len(data)} bytes do not fit MTU {self.mtu}', name='org.bluez.Error.InvalidValueLength')
            if write is not None:
                write(obj, data)
            else:
                obj.props[CHARACTERISTIC]['Value'] = byte_array(data)

        def start_notify(obj):
            changed(obj, CHARACTERISTIC, {'Notifying': dbus.Boolean(True, variant_level=1)})
            if start is not None:
                start(obj)

        def stop_notify(obj):
            changed(obj, CHARACTERISTIC, {'Notifying': dbus.Boolean(False, variant_level=1)})

        return self.add(path, CHARACTERISTIC, props, [
            ('ReadValue', 'a{sv}', 'ay', read_value),
            ('WriteValue', 'aya{sv}', '', write_value),
            ('StartNotify', '', '', start_notify),
            ('StopNotify', '', '', stop_notify),
        ]), path

    def descriptor(self, characteristic_path, uuid, value):
        self.handle += 1
        path = f'{characteristic_path}/desc{self.handle:04x}'
        props = {
            'UUID': dbus.String(uuid, variant_level=1),
            'Characteristic': dbus.ObjectPath(characteristic_path, variant_level=1),
            'Value': byte_array(value),
            'Flags': dbus.Array(['read'], signature='s', variant_level=1),
        }
        self.add(path, DESCRIPTOR, props, [
            ('ReadValue', 'a{sv}', 'ay', lambda obj, _options: obj.props[DESCRIPTOR]['Value']),
            ('WriteValue', 'aya{sv}', '', ''),
        ])

    def build(self):
        battery = self.service(sig(0x180F))
        level, level_path = self.characteristic(
            battery, sig(0x2A19), ['read', 'notify'], bytes([87]),
            start=lambda obj: GLib.timeout_add(20, self.notify_battery, obj))
        self.descriptor(level_path, sig(0x2901), b'Battery level')
        info = self.service(sig(0x180A))
        self.characteristic(info, sig(0x2A29), ['read'], b'Benchtop Labs')
        alert = self.service(sig(0x1802))
        self.characteristic(alert, sig(0x2A06), ['read', 'write'], bytes([0]))
        benchtop = self.service(BENCHTOP_SERVICE)
        self.characteristic(benchtop, BENCHTOP_RX, ['write-without-response'], write=self.to_board)
        self.tx, _ = self.characteristic(benchtop, BENCHTOP_TX, ['notify'], start=self.open_board)

    def build_env(self):
        ess = self.service(sig(0x181A))
        temperature = (2150).to_bytes(2, 'little', signed=True)
        humidity = (4500).to_bytes(2, 'little')
        self.characteristic(ess, sig(0x2A6E), ['read', 'notify'], temperature,
                            start=lambda obj: GLib.timeout_add(100, self.tick, obj, 1, True))
        self.characteristic(ess, sig(0x2A6F), ['read', 'notify'], humidity,
                            start=lambda obj: GLib.timeout_add(100, self.tick, obj, 10, False))

    def tick(self, obj, step, signed):
        if not obj.props[CHARACTERISTIC]['Notifying']:
            return False
        raw = int.from_bytes(bytes(obj.props[CHARACTERISTIC]['Value']), 'little', signed=signed) + step
        changed(obj, CHARACTERISTIC, {'Value': byte_array(raw.to_bytes(2, 'little', signed=signed))})
        return True

    def notify_battery(self, obj):
        changed(obj, CHARACTERISTIC, {'Value': byte_array(bytes([86]))})
        return False

    def open_board(self, _obj):
        self.close_board()
        host, port = self.sim_address.rsplit(':', 1)
        self.sim = socket.create_connection((host, int(port)))
        self.sim.setblocking(False)
        self.watch = GLib.io_add_watch(self.sim.fileno(), GLib.IO_IN | GLib.IO_HUP | GLib.IO_ERR, self.from_board)

    def close_board(self):
        if self.watch is not None:
            GLib.source_remove(self.watch)
            self.watch = None
        if self.sim is not None:
            self.sim.close()
            self.sim = None

    def to_board(self, _obj, data):
        if self.sim is None:
            raise dbus.exceptions.DBusException('not subscribed to TX', name='org.bluez.Error.NotPermitted')
        self.sim.setblocking(True)
        self.sim.sendall(data)
        self.sim.setblocking(False)

    def from_board(self, _fd, _condition):
        try:
            data = self.sim.recv(65536)
        except BlockingIOError:
            return True
        except OSError:
            data = b''
        if not data:
            self.watch = None
            self.close_board()
            return False
        step = self.mtu - 3
        for start in range(0, len(data), step):
            changed(self.tx, CHARACTERISTIC, {'Value': byte_array(data[start:start + step])})
        return True


def connectable(device, peripheral):
    """Connect and Disconnect as BlueZ does them: connecting also resolves services."""

    def connect(obj):
        obj.connected = True
        changed(obj, DEVICE, {'Connected': dbus.Boolean(True, variant_level=1),
                              'ServicesResolved': dbus.Boolean(True, variant_level=1)})

    def disconnect(obj):
        obj.connected = False
        peripheral.close_board()
        changed(obj, DEVICE, {'Connected': dbus.Boolean(False, variant_level=1),
                              'ServicesResolved': dbus.Boolean(False, variant_level=1)})

    device.AddMethod(DEVICE, 'Connect', '', '', connect)
    device.AddMethod(DEVICE, 'Disconnect', '', '', disconnect)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--sim', required=True, help='HOST:PORT of `benchtop sim --tcp` or a test TcpServer')
    parser.add_argument('--mtu', type=int, default=185, help='ATT MTU of the connection, bytes')
    parser.add_argument('--adapter-off', action='store_true', help='the adapter is powered off')
    parser.add_argument('--no-adapter', action='store_true', help='BlueZ runs but has no adapter')
    args = parser.parse_args()

    dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
    bus = dbus.bus.BusConnection(os.environ['DBUS_SYSTEM_BUS_ADDRESS'])
    name = dbus.service.BusName('org.bluez', bus, allow_replacement=True, replace_existing=True, do_not_queue=True)
    # The mock logs every call; only `ready` goes to stdout.
    root = mockobject.DBusMockObject(name, '/', OBJECT_MANAGER, {}, os.devnull, True)
    mockobject.objects['/'] = root
    root.AddTemplate('bluez5', None)
    if args.no_adapter:
        print('ready', flush=True)
        loop = GLib.MainLoop()
        GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_HUP | GLib.IO_IN | GLib.IO_ERR, lambda *_: loop.quit())
        loop.run()
        return
    adapter_path = bluez5.AddAdapter(root, 'hci0', 'benchtop-test')
    if args.adapter_off:
        mockobject.objects[adapter_path].props['org.bluez.Adapter1']['Powered'] = dbus.Boolean(False, variant_level=1)

    path = bluez5.AddDevice(root, 'hci0', 'C0:FF:EE:00:00:01', 'benchtop-sim')
    device = mockobject.objects[path]
    device.props[DEVICE]['UUIDs'] = dbus.Array([BENCHTOP_SERVICE, sig(0x180F), sig(0x180A)], signature='s',
                                               variant_level=1)
    device.props[DEVICE]['ManufacturerData'] = dbus.Dictionary(
        {dbus.UInt16(0xFFFF): dbus.Array([dbus.Byte(0x42), dbus.Byte(0x54)], signature='y', variant_level=1)},
        signature='qv', variant_level=1)
    peripheral = Peripheral(root, path, args.sim, args.mtu)

    connectable(device, peripheral)
    peripheral.build()

    env_path = bluez5.AddDevice(root, 'hci0', 'C0:FF:EE:00:00:03', 'env-sensor')
    env_device = mockobject.objects[env_path]
    env_device.props[DEVICE]['UUIDs'] = dbus.Array([sig(0x181A)], signature='s', variant_level=1)
    env = Peripheral(root, env_path, args.sim, args.mtu)
    connectable(env_device, env)
    env.build_env()

    # As BlueZ shows a device that sends no name: no Name, the address as Alias.
    unnamed_path = bluez5.AddDevice(root, 'hci0', 'C0:FF:EE:00:00:02', 'C0-FF-EE-00-00-02')
    unnamed = mockobject.objects[unnamed_path]
    del unnamed.props[DEVICE]['Name']
    unnamed.props[DEVICE]['RSSI'] = dbus.Int16(-90, variant_level=1)

    rssi_dbm = [-60, -52, -67, -58]

    def advertise():
        rssi_dbm.append(rssi_dbm.pop(0))
        changed(device, DEVICE, {'RSSI': dbus.Int16(rssi_dbm[0], variant_level=1)})
        return True

    GLib.timeout_add(50, advertise)
    loop = GLib.MainLoop()
    GLib.io_add_watch(sys.stdin.fileno(), GLib.IO_HUP | GLib.IO_IN | GLib.IO_ERR, lambda *_: loop.quit())
    print('ready', flush=True)
    loop.run()


if __name__ == '__main__':
    main()
