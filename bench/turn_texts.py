"""What the callers of the turn set say: a tune part and a held-out part, worded differently.

Each line is a caller turn split where the caller pauses mid-sentence (``segments``), with
its kind: a ``turn`` the agent answers, a ``backchannel`` said while the agent speaks (it must
not stop the agent), or an ``interruption`` said while the agent speaks (it must stop it).
``category`` says what kind of pause or answer it is, for the printout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal["turn", "backchannel", "interruption"]
Part = Literal["tune", "heldout"]
PARTS: tuple[Part, ...] = ("tune", "heldout")


@dataclass(frozen=True)
class Line:
    """One caller turn to render."""

    category: str
    segments: tuple[str, ...]
    kind: Kind = "turn"
    spoken: tuple[str, ...] | None = None
    """What the voice is given to say, when it differs from the transcript (espeak-ng spells
    out "mm-hm")."""


def _turn(category: str, *segments: str) -> Line:
    return Line(category, segments)


TUNE: tuple[Line, ...] = (
    # mid-sentence pauses
    _turn("digits", "My phone number is four one five,", "five five five,", "zero one zero zero."),
    _turn("digits", "It's two one two,", "seven seven three,", "four four nine one."),
    _turn("digits", "The card ends in", "six two eight eight."),
    _turn("number", "My order number is", "eight four seven two one."),
    _turn("number", "My account number is", "five nine one,", "three three zero."),
    _turn("number", "The zip code is", "nine four one zero seven."),
    _turn("trailing", "I'd like to move my appointment and", "maybe add a cleaning too."),
    _turn("trailing", "I tried restarting the router so", "now I'm not sure what to do."),
    _turn("trailing", "It's about my last bill um", "the total looks too high."),
    _turn("trailing", "The package arrived yesterday but", "the box was empty."),
    _turn("list", "I need the blue one,", "the red one,", "and a spare charger."),
    _turn("list", "I'm free Monday,", "Wednesday,", "or Friday morning."),
    _turn("list", "Send it to Sam,", "Priya,", "and Jordan."),
    _turn("clause", "If the technician can come before noon", "that would be great."),
    _turn("clause", "What I really wanted to know is", "whether the warranty covers it."),
    _turn("clause", "So basically", "I was charged twice for the same order."),
    # short answers
    _turn("short", "Yes."),
    _turn("short", "Tuesday."),
    _turn("short", "No, thanks."),
    _turn("short", "That's right."),
    _turn("short", "Sure."),
    _turn("short", "Around three."),
    _turn("short", "Smith."),
    _turn("short", "Nope."),
    # complete questions and statements
    _turn("question", "What time do you close today?"),
    _turn("question", "Can I pay by card over the phone?"),
    _turn("question", "Do you deliver on weekends?"),
    _turn("question", "How long does shipping usually take?"),
    _turn("statement", "I want to cancel my subscription."),
    _turn("statement", "My internet has been down since this morning."),
    _turn("question", "Is the store on Main Street still open?"),
    _turn("statement", "I'd like to book a table for four."),
    # said while the agent speaks
    Line("backchannel", ("Uh-huh.",), "backchannel"),
    Line("backchannel", ("Okay.",), "backchannel"),
    Line("backchannel", ("Yeah.",), "backchannel"),
    Line("interruption", ("Wait, that's not what I asked.",), "interruption"),
    Line("interruption", ("Sorry, can I stop you there?",), "interruption"),
    Line("interruption", ("No no, I need a different day.",), "interruption"),
    Line("backchannel", ("Mhm.",), "backchannel", spoken=("Mmm hmm.",)),
    Line("backchannel", ("Sure.",), "backchannel"),
    Line("backchannel", ("I see.",), "backchannel"),
    Line("backchannel", ("Alright.",), "backchannel"),
    Line("backchannel", ("Yes, okay.",), "backchannel"),
    Line("interruption", ("Actually, I changed my mind.",), "interruption"),
    Line("interruption", ("Hang on, let me grab a pen.",), "interruption"),
    Line("interruption", ("Can you slow down please?",), "interruption"),
    Line("interruption", ("That's wrong.",), "interruption"),
    Line("interruption", ("Excuse me, what was the price?",), "interruption"),
    # moved from the held-out part once its result had shaped the acknowledgement phrases
    _turn("statement", "I want to update my billing address."),
    Line("backchannel", ("That makes sense.",), "backchannel"),
    _turn("trailing", "I paid the bill yesterday but", "it still shows as due."),
)

HELDOUT: tuple[Line, ...] = (
    # mid-sentence pauses
    _turn("digits", "You can reach me at six five oh,", "three one two,", "eight eight four two."),
    _turn("digits", "Call me back on three one oh,", "nine nine two,", "one five zero six."),
    _turn("digits", "The last four digits are", "seven one", "nine three."),
    _turn("number", "My number is", "four four seven,", "two zero one eight."),
    _turn("number", "The reference is", "B as in bravo,", "nine one two."),
    _turn("number", "My member ID is", "three zero three,", "five seven six."),
    _turn("trailing", "I ordered the large size and", "it doesn't fit at all."),
    _turn("trailing", "My flight got moved so", "I need to change the booking."),
    _turn("trailing", "I was wondering um", "if you have anything on Saturday."),
    _turn("trailing", "The heating works in the kitchen but", "not in the bedroom."),
    _turn("list", "I'd like two pizzas,", "a salad,", "and garlic bread."),
    _turn("list", "We need towels,", "extra pillows,", "and a late checkout."),
    _turn("list", "It's for me,", "my wife,", "and our two kids."),
    _turn("clause", "When I logged in this morning", "my password didn't work."),
    _turn("clause", "The thing is", "I never got a confirmation email."),
    _turn("clause", "Before you transfer me", "can you tell me the wait time?"),
    # short answers
    _turn("short", "Yep, that's me."),
    _turn("short", "Thursday."),
    _turn("short", "No."),
    _turn("short", "Correct."),
    _turn("short", "Okay, great."),
    _turn("short", "After five."),
    _turn("short", "Johnson."),
    _turn("short", "Absolutely."),
    # complete questions and statements
    _turn("question", "Are you open on public holidays?"),
    _turn("question", "Where can I park when I arrive?"),
    _turn("question", "How much is the monthly plan?"),
    _turn("question", "Could you send me the invoice again?"),
    _turn("statement", "I'd like to speak to someone about a refund."),
    _turn("statement", "My order still hasn't arrived."),
    _turn("question", "Do I need to bring anything to the appointment?"),
    _turn("statement", "I need to reschedule my delivery."),
    # said while the agent speaks
    Line("backchannel", ("Mm-hm.",), "backchannel", spoken=("Hmm hmm.",)),
    Line("backchannel", ("Right.",), "backchannel"),
    Line("backchannel", ("Okay, yeah.",), "backchannel"),
    Line("interruption", ("Hold on, that's the wrong address.",), "interruption"),
    Line("interruption", ("Excuse me, I already did that.",), "interruption"),
    Line("interruption", ("Stop, I want to talk to a person.",), "interruption"),
    Line("backchannel", ("Uh-huh, sure.",), "backchannel"),
    Line("backchannel", ("Got it.",), "backchannel"),
    Line("backchannel", ("Yep.",), "backchannel"),
    Line("backchannel", ("Oh, I see.",), "backchannel"),
    Line("backchannel", ("Yes, that's correct.",), "backchannel"),
    Line("interruption", ("Sorry to interrupt, is that in euros?",), "interruption"),
    Line("interruption", ("No, that's not right.",), "interruption"),
    Line("interruption", ("Wait, go back a second.",), "interruption"),
    Line("interruption", ("Can I ask something first?",), "interruption"),
    Line("interruption", ("Actually, forget the address.",), "interruption"),
    # added with the acknowledgement phrases, before any run on them
    _turn("question", "Is there a cancellation fee?"),
    _turn("statement", "I'd like to pay by card."),
    _turn("question", "Can I get a receipt for that?"),
    _turn("statement", "My address changed last month."),
    _turn("question", "What time do you close on Sundays?"),
    _turn("statement", "I'd prefer the morning slot."),
    _turn("question", "Could you repeat the total please?"),
    Line("backchannel", ("Okay, perfect.",), "backchannel"),
    Line("backchannel", ("Yeah, I understand.",), "backchannel"),
    Line("backchannel", ("Right, right.",), "backchannel"),
    Line("backchannel", ("Mm, okay.",), "backchannel", spoken=("Hmm, okay.",)),
    Line("interruption", ("Okay, but I already paid that.",), "interruption"),
    Line("interruption", ("Right, but that's not my address.",), "interruption"),
    Line("interruption", ("Yeah, no, that's not what I meant.",), "interruption"),
    _turn("digits", "The zip code is", "nine four", "one one zero."),
    _turn("number", "The confirmation code is", "X as in x-ray,", "four four two."),
    _turn("digits", "My account number is", "five five two,", "eight one seven three."),
    _turn("trailing", "I called last week and", "nobody got back to me."),
    _turn("trailing", "The package arrived but", "the box was damaged."),
    _turn("list", "I need the blue one,", "the red one,", "and two of the green."),
    _turn("clause", "If you have a slot on Monday", "I'll take it."),
)

LINES: dict[Part, tuple[Line, ...]] = {"tune": TUNE, "heldout": HELDOUT}
