namespace Mixer.Runtime.Dispatch;

/// <summary>
/// A handler call that failed with a known google.rpc code (an out-of-process adapter that is
/// down, too slow or answered with an error): the dispatcher turns it into that status, with the
/// message naming what failed, and counts the call as failed.
/// </summary>
internal sealed class HandlerCallException(int statusCode, string message) : Exception(message)
{
    /// <summary>The google.rpc code the action fails with.</summary>
    public int StatusCode { get; } = statusCode;
}
