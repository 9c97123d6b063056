namespace Mixer.Sdk.Remote;

/// <summary>
/// How mixs names the session of a session-based out-of-process adapter in its Handle calls: both
/// ends of that contract (mixs's remote handler and <c>Mixer.Sdk.OutOfProcess</c>'s host) read it
/// from here.
/// </summary>
/// <remarks>
/// Istio 1.0's dynamic handler never sent the session id in Handle calls; this header is
/// Mixer.NET's addition. A host still accepts the id as the call's <c>adapter_config</c> (a
/// <c>google.protobuf.StringValue</c>), and a call with neither when one session is open.
/// </remarks>
public static class RemoteSession
{
    /// <summary>The gRPC request header that carries the session id: <c>x-mixer-session-id</c>.</summary>
    public const string Header = "x-mixer-session-id";
}
