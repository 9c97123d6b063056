namespace Mixer.Sdk.Adapters;

/// <summary>google.rpc codes a handler may answer with.</summary>
public static class StatusCodes
{
    /// <summary>OK.</summary>
    public const int Ok = 0;

    /// <summary>INVALID_ARGUMENT.</summary>
    public const int InvalidArgument = 3;

    /// <summary>NOT_FOUND.</summary>
    public const int NotFound = 5;

    /// <summary>PERMISSION_DENIED.</summary>
    public const int PermissionDenied = 7;

    /// <summary>RESOURCE_EXHAUSTED.</summary>
    public const int ResourceExhausted = 8;

    /// <summary>FAILED_PRECONDITION.</summary>
    public const int FailedPrecondition = 9;

    /// <summary>INTERNAL.</summary>
    public const int Internal = 13;

    /// <summary>UNAVAILABLE.</summary>
    public const int Unavailable = 14;

    /// <summary>UNAUTHENTICATED.</summary>
    public const int Unauthenticated = 16;
}

/// <summary>
/// A check handler's answer: a status, and how long / how many times the caller may reuse it.
/// A result with zero duration and zero count means "no opinion on caching" (Istio's default).
/// </summary>
/// <param name="StatusCode">A google.rpc code; 0 lets the request through.</param>
/// <param name="Message">Why it was denied.</param>
/// <param name="ValidDuration">How long the answer holds.</param>
/// <param name="ValidUseCount">How many requests the answer covers.</param>
public readonly record struct CheckResult(int StatusCode, string Message, TimeSpan ValidDuration, int ValidUseCount)
{
    /// <summary>OK, valid for <paramref name="duration"/> and <paramref name="useCount"/> uses.</summary>
    public static CheckResult Ok(TimeSpan duration, int useCount) => new(StatusCodes.Ok, string.Empty, duration, useCount);

    /// <summary>Denied with <paramref name="code"/> and <paramref name="message"/>.</summary>
    public static CheckResult Deny(int code, string message, TimeSpan duration, int useCount) => new(code, message, duration, useCount);

    /// <summary>Whether the request may go ahead.</summary>
    public bool IsOk => StatusCode == StatusCodes.Ok;
}

/// <summary>What a quota handler is asked for.</summary>
/// <param name="Amount">How much.</param>
/// <param name="BestEffort">Whether less may be granted.</param>
/// <param name="DeduplicationId">Same id on a retry of the same request: answer it the same way.</param>
public readonly record struct QuotaRequest(long Amount, bool BestEffort, string DeduplicationId);

/// <summary>A quota handler's answer.</summary>
/// <param name="GrantedAmount">How much was granted (0 for a denial).</param>
/// <param name="ValidDuration">How long the grant holds.</param>
/// <param name="StatusCode">A google.rpc code; normally OK even when nothing is granted.</param>
/// <param name="Message">A message for a non-OK status.</param>
public readonly record struct QuotaResult(long GrantedAmount, TimeSpan ValidDuration, int StatusCode = 0, string Message = "");
