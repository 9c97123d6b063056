namespace Mixer.Cli;

/// <summary>mixc's exit codes, for scripts (<c>mixc check … || handle $?</c>).</summary>
internal static class ExitCodes
{
    /// <summary>Every call succeeded: Check answered OK and granted every quota in full.</summary>
    public const int Ok = 0;

    /// <summary>A call failed: Mixer unreachable, the request refused, a deadline passed, an answer unreadable.</summary>
    public const int CallFailed = 1;

    /// <summary>Bad usage: an unknown flag, a value that does not parse.</summary>
    public const int BadInput = 2;

    /// <summary>Check answered with a status other than OK (the request would be denied).</summary>
    public const int Denied = 3;

    /// <summary>Check answered OK but granted less of a quota than was asked.</summary>
    public const int QuotaShort = 4;

    /// <summary>The code for several calls: a failure outranks a denial, which outranks a short quota.</summary>
    public static int Worst(int a, int b)
    {
        static int Rank(int code) => code switch
        {
            CallFailed => 3,
            Denied => 2,
            QuotaShort => 1,
            _ => 0,
        };

        return Rank(a) >= Rank(b) ? a : b;
    }
}
