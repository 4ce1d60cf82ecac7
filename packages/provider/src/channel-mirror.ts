// The channel mirror lives in @verity/chain (shared with the SDK's seller middleware).
export { type ChannelMirror, createChannelMirror, type MirroredChannel } from "@verity/chain";
