"""Irregular Italian verb forms, read as one word with the rest of their verb.

Questions ask in the present perfect ("Quando è nato?", "Chi ha scritto…?", "Cosa
hanno ottenuto?") and encyclopedic or news text answers in the past historic ("nacque",
"scrisse", "ottennero"). Snowball stems the regular forms of a verb alike but not its
irregular ones ("nato" → nat, "nacque" → nacqu, "nascita" → nasc), so the word that
carries the question's meaning misses its answer. Each form below is read as the word
before the colon, whose stem the verb's regular forms (and often its noun) share; forms
that Snowball already stems with their verb ("venuto", "scoprì") are not listed.

Forms that are also common words of another meaning ("chiese": churches, "letto": bed,
"posto": place, "dato": datum, "corso": course, "rivolta": revolt, "una sorta di",
"punto di vista") are left out.
"""

from __future__ import annotations

_TABLE = """
nascere: nato nata nati nate nacque nacquero
morte: morì morirono muore muoiono
vivere: visse vissero vissuto vissuta
scrivere: scrisse scrissero scritto scritta scritti scritte
descrivere: descrisse descrissero descritto descritta descritti descritte
iscrivere: iscrisse iscrissero iscritto iscritta iscritti iscritte
prendere: prese presero preso presa presi
riprendere: riprese ripresero ripreso ripresa
comprendere: comprese compresero compreso compresa compresi
apprendere: apprese appresero appreso
sorprendere: sorprese sorpresero sorpreso
rendere: rese resero reso resa
arrendere: arrese arresero arreso arresi
mettere: mise misero messo messi
permettere: permise permisero permesso
promettere: promise promisero promesso
trasmettere: trasmise trasmisero trasmesso trasmessa trasmessi
ammettere: ammise ammisero ammesso
dire: disse dissero detta
venire: venne vennero
divenire: divenne divennero
vincere: vinse vinsero vinto vinta vinti
convincere: convinse convinsero convinto convinta
perdere: perse persero perso persa persi
scegliere: scelse scelsero scelto scelta scelti
giungere: giunse giunsero giunto
raggiungere: raggiunse raggiunsero raggiunto raggiunta
aggiungere: aggiunse aggiunsero aggiunto aggiunta
chiudere: chiuse chiusero chiuso chiusa
decidere: decise decisero deciso decisa
uccidere: uccise uccisero ucciso uccisa uccisi
dividere: divise divisero diviso divisa divisi
conoscere: conobbe conobbero
riconoscere: riconobbe riconobbero
rimanere: rimase rimasero rimasto rimasta rimasti
apparire: apparve apparvero apparso apparsa
scomparire: scomparve scomparvero scomparso scomparsa
scoprire: scoperto scoperta scoperti
aprire: aprì aperto aperta
offrire: offrì offerto offerta
muovere: mosse mossero mosso mossa
promuovere: promosse promossero promosso promossa
rispondere: rispose risposero risposto risposta
nascondere: nascose nascosero nascosto nascosta
eleggere: elesse elessero eletto eletta eletti
distruggere: distrusse distrussero distrutto distrutta distrutti
scendere: scese scesero sceso scesa
discutere: discusse discussero discusso discussa
sorgere: sorse sorsero sorto
crescere: crebbe crebbero
ottenere: ottenne ottennero
tenere: tenne tennero
mantenere: mantenne mantennero
sostenere: sostenne sostennero
contenere: contenne contennero
appartenere: appartenne appartennero
introdurre: introdusse introdussero introdotto introdotta introdotti
produrre: produsse produssero
ridurre: ridusse ridussero ridotto ridotta
condurre: condusse condussero condotto condotta
tradurre: tradusse tradussero tradotto tradotta
dipingere: dipinse dipinsero dipinto dipinta
assumere: assunse assunsero assunto assunta
risolvere: risolse risolsero risolto risolta
vedere: vide videro visto
prevedere: previde previdero previsto prevista
cadere: cadde caddero
accadere: accadde accaddero
rompere: ruppe ruppero rotto
difendere: difese difesero difeso difesa
estendere: estese estesero esteso estesa
invadere: invase invasero invaso invasa
concludere: concluse conclusero concluso conclusa
includere: incluse inclusero incluso inclusa inclusi
escludere: escluse esclusero escluso esclusa
coinvolgere: coinvolse coinvolsero coinvolto coinvolta coinvolti
svolgere: svolse svolsero svolto svolti svolte
rivolgere: rivolse rivolsero rivolto
raccogliere: raccolse raccolsero raccolto raccolta
togliere: tolse tolsero tolto tolta
costringere: costrinse costrinsero costretto costretta costretti
esplodere: esplose esplosero esploso
sapere: seppe seppero
"""

IRREGULAR: dict[str, str] = {
    form: verb
    for line in _TABLE.strip().splitlines()
    for verb, forms in [line.split(":")]
    for form in forms.split()
}
