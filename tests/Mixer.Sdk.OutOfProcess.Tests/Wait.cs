namespace Mixer.Sdk.OutOfProcess.Tests;

internal static class Wait
{
    /// <summary>Polls <paramref name="condition"/> for up to 5 s: for work the host finishes after answering (disposal, a build the caller stopped waiting for).</summary>
    public static async Task Until(Func<bool> condition, string? because = null)
    {
        for (var i = 0; i < 500 && !condition(); i++)
        {
            await Task.Delay(10);
        }

        condition().ShouldBeTrue(because);
    }
}
