export const GATEWAY_CONFIG = Symbol('GATEWAY_CONFIG');
export const EVENT_LOG = Symbol('EVENT_LOG');
export const DELIVERY_LOG = Symbol('DELIVERY_LOG');
export const GATEWAY_DIRECTORY = Symbol('GATEWAY_DIRECTORY');
export const PRESENCE_STORE = Symbol('PRESENCE_STORE');
export const CONTROL_BUS = Symbol('CONTROL_BUS');
